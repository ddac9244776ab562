-module(kmeans).
-export([main/1]).
lcg(X) -> (X * 1103515245 + 12345) rem 2147483648.
gen(0, _X, Acc) -> Acc;
gen(N, X, Acc) -> X1 = lcg(X), X2 = lcg(X1),
    gen(N - 1, X2, [{float(X1 rem 100000) / 1000.0, float(X2 rem 100000) / 1000.0} | Acc]).
nearest(_P, [], _I, Best, _Bd) -> Best;
nearest(P, [C | Cs], I, Best, Bd) ->
    Dx = element(1, P) - element(1, C), Dy = element(2, P) - element(2, C),
    D = Dx * Dx + Dy * Dy,
    if D < Bd -> nearest(P, Cs, I + 1, I, D); true -> nearest(P, Cs, I + 1, Best, Bd) end.
assign([], _Cs, Sums) -> Sums;
assign([P | Pts], Cs, Sums) ->
    K = nearest(P, Cs, 0, 0, 1.0e300), S = element(K + 1, Sums),
    assign(Pts, Cs, setelement(K + 1, Sums, {element(1, S) + element(1, P), element(2, S) + element(2, P), element(3, S) + 1})).
worker(Pts, K) ->
    receive
        {round, Cs, From} -> From ! {sums, self(), assign(Pts, Cs, erlang:make_tuple(K, {0.0, 0.0, 0}))}, worker(Pts, K);
        stop -> ok
    end.
split([], _N, Acc, Cur, _I) -> lists:reverse([lists:reverse(Cur) | Acc]);
split(L, N, Acc, Cur, N) -> split(L, N, [lists:reverse(Cur) | Acc], [], 0);
split([H | T], N, Acc, Cur, I) -> split(T, N, Acc, [H | Cur], I + 1).
add_sums(A, _B, K, K) -> A;
add_sums(A, B, K, I) ->
    {X0, X1, X2} = element(I + 1, A), {Y0, Y1, Y2} = element(I + 1, B),
    add_sums(setelement(I + 1, A, {X0 + Y0, X1 + Y1, X2 + Y2}), B, K, I + 1).
gather([], Acc, _K) -> Acc;
gather([W | Ws], Acc, K) -> receive {sums, W, S} -> gather(Ws, add_sums(Acc, S, K, 0), K) end.
rounds(_Ws, Cs, _K, 0) -> Cs;
rounds(Ws, Cs, K, I) ->
    [W ! {round, Cs, self()} || W <- Ws],
    S = gather(Ws, erlang:make_tuple(K, {0.0, 0.0, 0}), K),
    NCs = [begin {A, B, C} = element(J + 1, S), Old = lists:nth(J + 1, Cs),
                 if C =:= 0 -> Old; true -> {A / float(C), B / float(C)} end end || J <- lists:seq(0, K - 1)],
    rounds(Ws, NCs, K, I - 1).
main([NS, KS, WS, IS]) ->
    [N, K, W, It] = [list_to_integer(X) || X <- [NS, KS, WS, IS]],
    Pts = gen(N, 11, []),
    T0 = erlang:monotonic_time(millisecond),
    Chunks = split(Pts, (N + W - 1) div W, [], [], 0),
    Ws = [spawn(fun() -> worker(C, K) end) || C <- Chunks],
    Cs = rounds(Ws, lists:sublist(Pts, K), K, It),
    [X ! stop || X <- Ws],
    R = lists:foldl(fun({A, B}, Acc) -> Acc + A + B end, 0.0, Cs),
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~b elapsed_ms=~b~n", [round(R * 1000000.0), T1 - T0]),
    erlang:halt(0).
