-module(qsort).
-export([main/1]).
lcg(X) -> (X * 1103515245 + 12345) rem 2147483648.
gen(0, _, Acc) -> Acc;
gen(N, X, Acc) -> X1 = lcg(X), gen(N - 1, X1, [(X1 bsr 3) rem 1000000 | Acc]).
part(_, [], Lo, Eq, Hi) -> {Lo, Eq, Hi};
part(P, [H | T], Lo, Eq, Hi) when H < P -> part(P, T, [H | Lo], Eq, Hi);
part(P, [H | T], Lo, Eq, Hi) when H > P -> part(P, T, Lo, Eq, [H | Hi]);
part(P, [H | T], Lo, Eq, Hi) -> part(P, T, Lo, [H | Eq], Hi).
qs([], Tail) -> Tail;
qs([P | T], Tail) -> {Lo, Eq, Hi} = part(P, T, [], [], []), qs(Lo, [P | Eq ++ qs(Hi, Tail)]).
pqs(L, N, T) when N =< T -> qs(L, []);
pqs([P | Rest], _N, T) ->
    {Lo, Eq, Hi} = part(P, Rest, [], [], []),
    Me = self(), Ref = make_ref(),
    spawn(fun() -> Me ! {Ref, pqs(Hi, length(Hi), T)} end),
    SLo = pqs(Lo, length(Lo), T),
    receive {Ref, SHi} -> SLo ++ [P | Eq ++ SHi] end.
check([], H) -> H;
check([X | T], H) -> check(T, (H * 31 + X) rem 1000000007).
main([NS, TS]) ->
    N = list_to_integer(NS), T = list_to_integer(TS),
    L = gen(N, 42, []),
    T0 = erlang:monotonic_time(millisecond),
    S = pqs(L, N, T),
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~b elapsed_ms=~b~n", [check(S, 0), T1 - T0]),
    erlang:halt(0).
