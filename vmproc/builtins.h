/*
 * builtins.h: the builtin functions of the language, defined once.
 *
 * BI(id, name, min arity, max arity or -1 for any, C function, flags, doc)
 *
 * The compiler checks arities against this list and turns some calls into
 * opcodes (+, <, tuple ...) or calls of the prelude (map, foldl, sleep,
 * table-fold, table->list: written in the language, program.c); those
 * have bif_compiled as their
 * function, which is never called. Everything else is OP_BIF with the id,
 * dispatched through bif_table (bif.c) to the function, which lives in
 * the file of its family (bif_arith.c, bif_list.c, ...).
 *
 * Flags:
 *   BF_GUARD  allowed in a guard: it only reads its arguments (or the
 *             caller's identity and placement) and returns a value; it
 *             does not send, receive, spawn, link, touch a table, print,
 *             sleep, move the process, read the clock, draw a random
 *             number or call a function (LANGUAGE.md, "Patterns").
 */
BI(ADD, "+", 0, -1, bif_compiled, BF_GUARD, "sum")
BI(SUB, "-", 1, -1, bif_compiled, BF_GUARD, "difference, or negation of one argument")
BI(MUL, "*", 0, -1, bif_compiled, BF_GUARD, "product")
BI(DIV, "/", 2, 2, bif_div, BF_GUARD, "quotient: truncating on two integers, float otherwise")
BI(REM, "rem", 2, 2, bif_rem, BF_GUARD, "remainder of two integers")
BI(EQ, "=", 2, 2, bif_compiled, BF_GUARD, "deep equality")
BI(NE, "/=", 2, 2, bif_compiled, BF_GUARD, "not =")
BI(LT, "<", 2, 2, bif_compiled, BF_GUARD, "less than")
BI(GT, ">", 2, 2, bif_compiled, BF_GUARD, "greater than")
BI(LE, "<=", 2, 2, bif_compiled, BF_GUARD, "less or equal")
BI(GE, ">=", 2, 2, bif_compiled, BF_GUARD, "greater or equal")
BI(NOT, "not", 1, 1, bif_not, BF_GUARD, "logical not")
BI(LIST, "list", 0, -1, bif_compiled, BF_GUARD, "a list of the arguments")
BI(CONS, "cons", 2, 2, bif_cons, BF_GUARD, "a cell")
BI(CAR, "car", 1, 1, bif_car, BF_GUARD, "head of a list")
BI(CDR, "cdr", 1, 1, bif_cdr, BF_GUARD, "tail of a list")
BI(LENGTH, "length", 1, 1, bif_length, BF_GUARD, "length of a list")
BI(REVERSE, "reverse", 1, 1, bif_reverse, BF_GUARD, "a list reversed")
BI(APPEND, "append", 2, 2, bif_append, BF_GUARD, "two lists joined")
BI(NTH, "nth", 2, 2, bif_nth, BF_GUARD, "element i of a list, from 0")
BI(NULLP, "null?", 1, 1, bif_nullp, BF_GUARD, "is it '()")
BI(SEQ, "seq", 2, 2, bif_seq, BF_GUARD, "integers from a to b")
BI(MAP, "map", 2, 2, bif_compiled, 0, "f over a list")
BI(FOLDL, "foldl", 3, 3, bif_compiled, 0, "left fold")
BI(TUPLE, "tuple", 0, -1, bif_compiled, BF_GUARD, "a tuple of the arguments")
BI(ELEM, "elem", 2, 2, bif_elem, BF_GUARD, "element i of a tuple, from 0")
BI(TUPLE_SIZE, "tuple-size", 1, 1, bif_tuple_size, BF_GUARD, "size of a tuple")
BI(STR, "str", 0, -1, bif_str, BF_GUARD, "printed forms concatenated")
BI(STRING_LENGTH, "string-length", 1, 1, bif_string_length, BF_GUARD, "bytes in a string")
BI(STRING_TO_INT, "string->int", 1, 1, bif_string_to_int, BF_GUARD, "parse a decimal integer")
BI(INTP, "int?", 1, 1, bif_intp, BF_GUARD, "type test")
BI(FLOATP, "float?", 1, 1, bif_floatp, BF_GUARD, "type test")
BI(ATOMP, "atom?", 1, 1, bif_atomp, BF_GUARD, "type test")
BI(STRINGP, "string?", 1, 1, bif_stringp, BF_GUARD, "type test")
BI(LISTP, "list?", 1, 1, bif_listp, BF_GUARD, "type test")
BI(TUPLEP, "tuple?", 1, 1, bif_tuplep, BF_GUARD, "type test")
BI(PIDP, "pid?", 1, 1, bif_pidp, BF_GUARD, "type test")
BI(FUNP, "fun?", 1, 1, bif_funp, BF_GUARD, "type test")
BI(PRINT, "print", 0, -1, bif_print, 0, "write the arguments and a newline in one write")
BI(ARGS, "args", 0, 0, bif_args, BF_GUARD, "the program arguments")
BI(NOW_MS, "now-ms", 0, 0, bif_now_ms, 0, "monotonic milliseconds")
BI(RANDOM, "random", 1, 1, bif_random, 0, "random integer in [0, n)")
BI(ERROR, "error", 1, 1, bif_raise_error, 0, "raise #(error reason)")
BI(THROW, "throw", 1, 1, bif_throw, 0, "raise v for a catch to return")
BI(EXIT, "exit", 1, 2, bif_exit, 0, "end the caller, or send an exit signal")
BI(SELF, "self", 0, 0, bif_self, BF_GUARD, "the caller's pid")
BI(SLEEP, "sleep", 1, 1, bif_compiled, 0, "suspend the caller for ms milliseconds (prelude: receive after)")
BI(SPAWN, "spawn", 1, -1, bif_spawn, 0, "start a process calling f with the arguments")
BI(SPAWN_ON, "spawn-on", 2, -1, bif_spawn_on, 0, "start a process on VM vm")
BI(SEND, "send", 2, 2, bif_send, 0, "send a message")
BI(LINK, "link", 1, 1, bif_link, 0, "link to a process")
BI(UNLINK, "unlink", 1, 1, bif_unlink, 0, "remove a link")
BI(TRAP_EXITS, "trap-exits", 1, 1, bif_trap_exits, 0, "exit signals as messages, or not")
BI(MONITOR, "monitor", 1, 1, bif_monitor, 0, "monitor a process")
BI(DEMONITOR, "demonitor", 1, 1, bif_demonitor, 0, "cancel a monitor")
BI(MIGRATE, "migrate", 1, 1, bif_migrate, 0, "move the caller to VM vm")
BI(CALL_ON, "call-on", 2, -1, bif_compiled, 0, "call f on VM vm inside the caller, then come back")
BI(CALL_ON_ENTER, "%call-on-enter", 1, 1, bif_call_on_enter, 0, "call-on: pin the caller, move it to vm")
BI(CALL_ON_LEAVE, "%call-on-leave", 1, 1, bif_call_on_leave, 0, "call-on: unpin the caller, move it back to vm")
BI(PROCESS_INFO, "process-info", 1, 1, bif_process_info, 0, "#(vm heap-bytes mailbox-length migrations)")
BI(TABLE_NEW, "table-new", 1, 2, bif_table_new, 0, "create a shared table ('ordered: in term order)")
BI(TABLE_PUT, "table-put", 3, 3, bif_table_put, 0, "store a key and value")
BI(TABLE_GET, "table-get", 3, 3, bif_table_get, 0, "the value of a key, or the default")
BI(TABLE_DELETE, "table-delete", 2, 2, bif_table_delete, 0, "remove a key")
BI(TABLE_SIZE, "table-size", 1, 1, bif_table_size, 0, "keys in a table")
BI(TABLE_UPDATE_COUNTER, "table-update-counter", 3, 3, bif_table_update_counter, 0, "add to an integer value atomically")
BI(TABLE_INSERT_NEW, "table-insert-new", 3, 3, bif_table_insert_new, 0, "store a key and value only if the key is absent")
BI(TABLE_TAKE, "table-take", 3, 3, bif_table_take, 0, "remove a key and return its value, or the default")
BI(TABLE_FOLD, "table-fold", 3, 3, bif_compiled, 0, "call (f key value acc) on every entry (prelude)")
BI(TABLE_TO_LIST, "table->list", 1, 1, bif_compiled, 0, "the list of #(key value) (prelude)")
BI(TABLE_DROP, "table-drop", 1, 1, bif_table_drop, 0, "delete a table and everything in it")
BI(TABLE_CHUNK, "%table-chunk", 2, 2, bif_table_chunk, 0, "the entries after a cursor, for table-fold")
BI(TABLE_BYTES, "%table-bytes", 1, 1, bif_table_bytes, 0, "bytes a table holds, for the benchmarks")
BI(MAKE_REF, "make-ref", 0, 0, bif_make_ref, 0, "a fresh ref")
BI(VM_ID, "vm-id", 0, 0, bif_vm_id, BF_GUARD, "number of the VM running the caller")
BI(VM_COUNT, "vm-count", 0, 0, bif_vm_count, BF_GUARD, "number of VMs")
BI(NUMA_NODE, "numa-node", 0, 0, bif_numa_node, BF_GUARD, "NUMA node of the caller's VM")
