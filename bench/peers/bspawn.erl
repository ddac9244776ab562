%% bspawn: spawn N processes, each sends one message back to the parent
%% (peer of bench/spawn.shoal). Prints ns per process.
%%   erl -noshell [+S S] +P 1000000 -pa EBIN -run bspawn main N
-module(bspawn).
-export([main/1]).

spawn_all(0, _Me) -> ok;
spawn_all(K, Me) -> spawn(fun() -> Me ! done end), spawn_all(K - 1, Me).

collect(0) -> ok;
collect(K) -> receive done -> collect(K - 1) end.

main([NS]) ->
    N = list_to_integer(NS),
    T0 = erlang:monotonic_time(nanosecond),
    spawn_all(N, self()),
    collect(N),
    T1 = erlang:monotonic_time(nanosecond),
    io:format("RESULT value=~.1f unit=ns/process elapsed_ms=~.3f count=~b schedulers=~b~n",
              [(T1 - T0) / N, (T1 - T0) / 1.0e6, N, erlang:system_info(schedulers_online)]),
    erlang:halt(0).
