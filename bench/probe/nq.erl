-module(nq).
-export([main/1]).
safe(_, [], _) -> true;
safe(C, [Q | _], D) when Q =:= C; Q =:= C + D; Q =:= C - D -> false;
safe(C, [_ | Qs], D) -> safe(C, Qs, D + 1).
solve(N, N, _) -> 1;
solve(N, Row, Qs) ->
    lists:foldl(fun(C, Acc) -> case safe(C, Qs, 1) of true -> Acc + solve(N, Row + 1, [C | Qs]); false -> Acc end end,
                0, lists:seq(0, N - 1)).
main([NS]) ->
    N = list_to_integer(NS), Me = self(),
    T0 = erlang:monotonic_time(millisecond),
    Starts = lists:filter(fun([C | Qs]) -> safe(C, Qs, 1) end,
                          lists:foldl(fun(A, Acc) -> lists:map(fun(B) -> [B, A] end, lists:seq(0, N - 1)) ++ Acc end,
                                      [], lists:seq(0, N - 1))),
    lists:foreach(fun(Qs) -> spawn(fun() -> Me ! {count, solve(N, 2, Qs)} end) end, Starts),
    R = lists:foldl(fun(_, Acc) -> receive {count, C} -> Acc + C end end, 0, Starts),
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~b elapsed_ms=~b~n", [R, T1 - T0]),
    erlang:halt(0).
