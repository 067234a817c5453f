# Runs BENCH with ARGS (a list) and fails unless it exits 0 and its last line of output matches
# the regular expression LAST_LINE. PASS_REGULAR_EXPRESSION alone would ignore the exit status.
#   cmake -DBENCH=... -DARGS=a;b -DLAST_LINE=^...$ -P check_last_line.cmake
execute_process(COMMAND ${BENCH} ${ARGS}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BENCH} exited with ${rc}")
endif()
string(REGEX REPLACE "\n$" "" out "${out}")
string(REGEX REPLACE "^.*\n" "" last "${out}")
if(NOT last MATCHES "${LAST_LINE}")
  message(FATAL_ERROR "last line '${last}' does not match '${LAST_LINE}'")
endif()
