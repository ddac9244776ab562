%% bspawn: spawn N processes, each sends one message back to the parent
%% (peer of bench/spawn.shoal). Prints ns per process.
%%   erl -noshell [+S S] +P 1000000 -pa EBIN -run bspawn main N [off_heap]
%% As written, the parent's message queue is on its heap (BEAM's default),
%% so at large N the parent collects its growing queue again and again.
%% With off_heap the parent first sets process_flag(message_queue_data,
%% off_heap): the queue lives outside the heap and the spawn loop is what
%% is timed. The driver runs both and judges the bar against the faster.
-module(bspawn).
-export([main/1]).

spawn_all(0, _Me) -> ok;
spawn_all(K, Me) -> spawn(fun() -> Me ! done end), spawn_all(K - 1, Me).

collect(0) -> ok;
collect(K) -> receive done -> collect(K - 1) end.

run(N, Mode) ->
    T0 = erlang:monotonic_time(nanosecond),
    spawn_all(N, self()),
    collect(N),
    T1 = erlang:monotonic_time(nanosecond),
    io:format("RESULT value=~.1f unit=ns/process elapsed_ms=~.3f count=~b schedulers=~b "
              "message_queue_data=~s~n",
              [(T1 - T0) / N, (T1 - T0) / 1.0e6, N, erlang:system_info(schedulers_online), Mode]).

main([NS]) ->
    run(list_to_integer(NS), on_heap),
    erlang:halt(0);
main([NS, "off_heap"]) ->
    process_flag(message_queue_data, off_heap),
    run(list_to_integer(NS), off_heap),
    erlang:halt(0).
