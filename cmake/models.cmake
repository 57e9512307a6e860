# THE models module: which models a firmware image carries and which TFLite ops it compiles.
# Used by every firmware build: the plain CMake boards (sim/boards/posix, sim/boards/mps2-an386),
# the ESP-IDF project (device/main, device/components/esp-tflite-micro; linux and esp32), and the
# MicroPython module (through the files a plain CMake build generates). Pure functions of the
# model cards and of the op table (device/components/imuad_core/include/imuad/op_table.def), so
# they also run in script mode (ESP-IDF's requirement scan, tests):
#
#   cmake [-DMODELS="synth;cnc"] [-DFIXTURES=ON] [-DOPS=all|cards|"A;B"] -P cmake/models.cmake
#   cmake -DIDF_TARGET=esp32|linux [-DCONFIG_IMUAD_MODELS="synth cnc"] -P cmake/models.cmake
#     prints   models: <dir>;<dir>...   and   ops: <op>;<op>...   (the second: imuad_idf_image)
#
# Rules (docs/contracts.md C6/C7):
#   - models: MODELS (names under models/, repo-relative or absolute dirs), default every
#     models/*/ holding a model card; the card with "default": true goes first (an empty HELLO
#     and the ESP32's live mode select the first model), the rest keep their order (names sorted);
#   - fixtures: the core's test fixture models (tests/firmware/fixtures/models/*) only when FIXTURES
#     is given, i.e. only in test builds, after the real models (never the default);
#   - each model dir must hold model_card.json with an `ops` list, model_config.h, model_data.cc;
#   - ops: the union of the cards' `ops` ("cards", the default), every op of the op table
#     ("all", e.g. esp-tflite-micro which compiles every kernel), or an explicit list; configure
#     fails if a card names an op outside the op table or outside an explicit list.

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  cmake_minimum_required(VERSION 3.20)  # run as `cmake -P`: the policies of a project
endif()

# imuad_op_table(<out_names>): the op table's names (file order); sets in the caller's scope
# IMUAD_OP_<NAME>_METHOD (MicroMutableOpResolver method) and IMUAD_OP_<NAME>_FILES (kernel files).
function(imuad_op_table out_names)
  get_filename_component(root "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/.." ABSOLUTE)
  set(table "${root}/device/components/imuad_core/include/imuad/op_table.def")
  file(STRINGS "${table}" lines REGEX "^IMUAD_OP\\(")
  set(names)
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^IMUAD_OP\\(([A-Z0-9_]+), *([A-Za-z0-9_]+), *([^)]*)\\)$")
      message(FATAL_ERROR "imuad: ${table}: cannot read line '${line}'")
    endif()
    set(name "${CMAKE_MATCH_1}")
    set(method "${CMAKE_MATCH_2}")
    string(STRIP "${CMAKE_MATCH_3}" files)
    separate_arguments(files UNIX_COMMAND "${files}")
    list(APPEND names "${name}")
    set(IMUAD_OP_${name}_METHOD "${method}" PARENT_SCOPE)
    set(IMUAD_OP_${name}_FILES "${files}" PARENT_SCOPE)
  endforeach()
  if(NOT CMAKE_SCRIPT_MODE_FILE)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${table}")
  endif()
  set(${out_names} "${names}" PARENT_SCOPE)
endfunction()

# imuad_select_models(<out_dirs> <out_ops> [MODELS dir|name...] [FIXTURES] [OPS all|cards|op...])
function(imuad_select_models out_dirs out_ops)
  cmake_parse_arguments(A "FIXTURES" "" "MODELS;OPS" ${ARGN})
  get_filename_component(root "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/.." ABSOLUTE)
  set(script_mode OFF)
  if(CMAKE_SCRIPT_MODE_FILE)
    set(script_mode ON)
  endif()
  # -- which dirs
  set(dirs)
  list(FILTER A_MODELS EXCLUDE REGEX "^(auto)?$")
  if(A_MODELS)
    foreach(n IN LISTS A_MODELS)
      if(IS_ABSOLUTE "${n}")
        set(d "${n}")
      elseif(IS_DIRECTORY "${root}/${n}")
        set(d "${root}/${n}")
      else()
        set(d "${root}/models/${n}")
      endif()
      get_filename_component(d "${d}" ABSOLUTE)
      list(APPEND dirs "${d}")
    endforeach()
  else()
    if(script_mode)
      file(GLOB cards "${root}/models/*/model_card.json")
    else()  # CONFIGURE_DEPENDS: a model exported later is picked up by the next build
      file(GLOB cards CONFIGURE_DEPENDS "${root}/models/*/model_card.json")
    endif()
    list(SORT cards)
    foreach(c IN LISTS cards)
      get_filename_component(d "${c}" DIRECTORY)
      list(APPEND dirs "${d}")
    endforeach()
  endif()
  # -- the default card first
  foreach(d IN LISTS dirs)
    if(EXISTS "${d}/model_card.json")
      file(READ "${d}/model_card.json" card)
      string(JSON is_default ERROR_VARIABLE err GET "${card}" default)
      if(NOT err AND is_default)
        list(REMOVE_ITEM dirs "${d}")
        list(PREPEND dirs "${d}")
        break()
      endif()
    endif()
  endforeach()
  # -- fixtures (test builds only), after the real models
  if(A_FIXTURES)
    if(script_mode)
      file(GLOB fixture_cards "${root}/tests/firmware/fixtures/models/*/model_card.json")
    else()
      file(GLOB fixture_cards CONFIGURE_DEPENDS "${root}/tests/firmware/fixtures/models/*/model_card.json")
    endif()
    list(SORT fixture_cards)
    foreach(c IN LISTS fixture_cards)
      get_filename_component(d "${c}" DIRECTORY)
      list(APPEND dirs "${d}")
    endforeach()
  endif()
  list(REMOVE_DUPLICATES dirs)
  # -- every card complete, ops known
  imuad_op_table(table)
  set(card_ops)
  foreach(d IN LISTS dirs)
    foreach(f model_card.json model_config.h model_data.cc)
      if(NOT EXISTS "${d}/${f}")
        message(FATAL_ERROR "imuad: model dir ${d} has no ${f} (write it with `imuad export`)")
      endif()
    endforeach()
    if(NOT script_mode)
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                   "${d}/model_card.json" "${d}/model_config.h")
    endif()
    file(READ "${d}/model_card.json" card)
    string(JSON n ERROR_VARIABLE err LENGTH "${card}" ops)
    if(err)
      message(FATAL_ERROR "imuad: ${d}/model_card.json has no `ops` list (${err}); export it again")
    endif()
    if(n GREATER 0)
      math(EXPR last "${n} - 1")
      foreach(i RANGE ${last})
        string(JSON op GET "${card}" ops ${i})
        if(NOT op IN_LIST table)
          message(FATAL_ERROR "imuad: ${d}/model_card.json uses TFLite op '${op}', which is not in the op "
            "table device/components/imuad_core/include/imuad/op_table.def: add its IMUAD_OP line there")
        endif()
        list(APPEND card_ops "${op}")
      endforeach()
    endif()
  endforeach()
  # -- ops compiled
  if(NOT A_OPS OR A_OPS STREQUAL "cards")
    set(ops ${card_ops})
  elseif(A_OPS STREQUAL "all")
    set(ops ${table})
  else()
    set(ops ${A_OPS})
    foreach(op IN LISTS ops)
      if(NOT op IN_LIST table)
        message(FATAL_ERROR "imuad: op '${op}' (OPS) is not in the op table "
          "device/components/imuad_core/include/imuad/op_table.def")
      endif()
    endforeach()
    foreach(op IN LISTS card_ops)
      if(NOT op IN_LIST ops)
        message(FATAL_ERROR "imuad: a compiled-in model uses TFLite op '${op}', which this build's op list "
          "(IMUAD_TFLM_OPS) leaves out")
      endif()
    endforeach()
  endif()
  list(REMOVE_DUPLICATES ops)
  list(SORT ops)
  set(${out_dirs} "${dirs}" PARENT_SCOPE)
  set(${out_ops} "${ops}" PARENT_SCOPE)
endfunction()

# imuad_idf_image(<out_dirs> <out_ops>): the models and ops of an ESP-IDF image, for the two
# components that must agree on them (esp-tflite-micro compiles the kernels, imuad_core's
# compiled_ops.h tells the upload path which ops exist). CONFIG_IMUAD_MODELS, and:
#   linux (the test build): the cards' ops, fixture models included;
#   chips: every op of the op table, as Espressif's esp-tflite-micro component compiles, so that
#     a model uploaded at run time (C7 MODEL_BEGIN) finds its kernels.
function(imuad_idf_image out_dirs out_ops)
  string(REPLACE " " ";" models "${CONFIG_IMUAD_MODELS}")
  if(IDF_TARGET STREQUAL "linux")
    imuad_select_models(dirs ops MODELS ${models} FIXTURES)
  else()
    imuad_select_models(dirs ops MODELS ${models} OPS all)
  endif()
  if(NOT ops)
    set(ops FULLY_CONNECTED)  # no model card yet: the smallest useful kernel set
  endif()
  set(${out_dirs} "${dirs}" PARENT_SCOPE)
  set(${out_ops} "${ops}" PARENT_SCOPE)
endfunction()

# imuad_kernel_files(<out> <ops>...): TFLM kernel files (relative to micro/kernels) of these ops.
function(imuad_kernel_files out)
  imuad_op_table(table)
  set(files kernel_util.cc micro_tensor_utils.cc)
  foreach(op IN LISTS ARGN)
    list(APPEND files ${IMUAD_OP_${op}_FILES})
  endforeach()
  list(REMOVE_DUPLICATES files)
  set(${out} "${files}" PARENT_SCOPE)
endfunction()

# Writes <file> only when its content changes (no rebuild after a no-op re-configure).
function(_imuad_write file content)
  if(EXISTS "${file}")
    file(READ "${file}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${file}" "${content}")
endfunction()

# imuad_write_compiled_ops(<dir> <ops>...): <dir>/imuad/compiled_ops.h, which imuad/ops.h reads:
# IMUAD_IF_COMPILED_<NAME>(...) keeps its argument for the compiled ops and drops it for the others.
function(imuad_write_compiled_ops dir)
  imuad_op_table(table)
  list(LENGTH ARGN count)
  set(text "// Generated by cmake/models.cmake: the ops of imuad/op_table.def this build compiles. Do not edit.\n")
  string(APPEND text "#pragma once\n#define IMUAD_COMPILED_OP_COUNT ${count}\n")
  foreach(op IN LISTS table)
    if(op IN_LIST ARGN)
      string(APPEND text "#define IMUAD_IF_COMPILED_${op}(...) __VA_ARGS__\n")
    else()
      string(APPEND text "#define IMUAD_IF_COMPILED_${op}(...)\n")
    endif()
  endforeach()
  _imuad_write("${dir}/imuad/compiled_ops.h" "${text}")
endfunction()

# imuad_write_registry(<file.cc> <dirs>...): the definition of imuad::compiled_models()
# (imuad/compiled_models.h) for these model dirs, in this order.
function(imuad_write_registry file)
  set(includes "")
  set(entries "")
  set(count 0)
  foreach(d IN LISTS ARGN)
    get_filename_component(name "${d}" NAME)
    string(MAKE_C_IDENTIFIER "${name}" ident)
    string(APPEND includes "#include \"${d}/model_config.h\"\n")
    string(APPEND entries "    &imuad_models::${ident}::kSpec,\n")
    math(EXPR count "${count} + 1")
  endforeach()
  if(count EQUAL 0)
    set(entries "    nullptr,\n")
  endif()
  _imuad_write("${file}" "// Generated by cmake/models.cmake; do not edit.
#include \"imuad/compiled_models.h\"
${includes}
namespace imuad {
namespace {
const ModelSpec* const kModels[] = {
${entries}};
}  // namespace
ModelRegistry compiled_models() { return ModelRegistry{kModels, ${count}}; }
}  // namespace imuad
")
endfunction()

# Script mode: print the selection (tests/firmware/test_models_cmake.py).
if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  set(_args MODELS ${MODELS} OPS ${OPS})
  if(FIXTURES)
    list(APPEND _args FIXTURES)
  endif()
  if(IDF_TARGET)
    imuad_idf_image(_dirs _ops)
  else()
    imuad_select_models(_dirs _ops ${_args})
  endif()
  message("models: ${_dirs}")
  message("ops: ${_ops}")
endif()
