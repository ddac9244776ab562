%% bmaps: one map, N integer keys: put them all (0 .. N-1, the value the
%% key), look each up, then remove them all, each phase timed (peer of
%% bench/maps.shoal). Prints ns per operation of each phase.
%%   erl -noshell +S 1 -pa EBIN -run bmaps main N
-module(bmaps).
-export([main/1]).

ins(M, I, N) when I < N -> ins(maps:put(I, I, M), I + 1, N);
ins(M, _, _) -> M.

look(M, I, N, Acc) when I < N -> look(M, I + 1, N, Acc + maps:get(I, M, 0));
look(_, _, _, Acc) -> Acc.

del(M, I, N) when I < N -> del(maps:remove(I, M), I + 1, N);
del(M, _, _) -> M.

main([NS]) ->
    N = list_to_integer(NS),
    T0 = erlang:monotonic_time(nanosecond),
    M = ins(#{}, 0, N),
    T1 = erlang:monotonic_time(nanosecond),
    Sum = look(M, 0, N, 0),
    T2 = erlang:monotonic_time(nanosecond),
    E = del(M, 0, N),
    T3 = erlang:monotonic_time(nanosecond),
    io:format("RESULT value=~.1f unit=ns/op insert=~.1f lookup=~.1f delete=~.1f "
              "sum=~b size=~b count=~b~n",
              [(T1 - T0) / N, (T1 - T0) / N, (T2 - T1) / N, (T3 - T2) / N, Sum,
               maps:size(E), N]),
    erlang:halt(0).
