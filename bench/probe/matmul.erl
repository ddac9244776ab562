-module(matmul).
-export([main/1]).
mk_row(_I, J, _N, Acc) when J < 0 -> list_to_tuple(Acc);
mk_row(I, J, N, Acc) -> mk_row(I, J - 1, N, [(I * 7 + J * 3 + 1) rem 10 | Acc]).
mk(I, _N, Acc) when I < 0 -> list_to_tuple(Acc);
mk(I, N, Acc) -> mk(I - 1, N, [mk_row(I, N - 1, N, []) | Acc]).
dot(_Ar, _B, _J, N, N, Acc) -> Acc;
dot(Ar, B, J, K, N, Acc) -> dot(Ar, B, J, K + 1, N, Acc + element(K + 1, Ar) * element(J + 1, element(K + 1, B))).
row(_Ar, _B, J, _N, Acc) when J < 0 -> list_to_tuple(Acc);
row(Ar, B, J, N, Acc) -> row(Ar, B, J - 1, N, [dot(Ar, B, J, 0, N, 0) | Acc]).
rows(_A, _B, I, Hi, _N, Acc) when Hi < I -> Acc;
rows(A, B, I, Hi, N, Acc) -> rows(A, B, I, Hi - 1, N, [row(element(Hi + 1, A), B, N - 1, N, []) | Acc]).
worker(A, B, Lo, Hi, N, Idx, Master) -> Master ! {rows, Idx, rows(A, B, Lo, Hi, N, [])}.
rsum(_T, J, Acc) when J < 0 -> Acc;
rsum(T, J, Acc) -> rsum(T, J - 1, Acc + element(J + 1, T)).
collect(W, W, Acc) -> Acc;
collect(I, W, Acc) ->
    receive {rows, I, Rs} ->
        collect(I + 1, W, lists:foldl(fun(R, S) -> (S * 7 + rsum(R, tuple_size(R) - 1, 0)) rem 1000000007 end, Acc, Rs))
    end.
main([NS, WS]) ->
    N = list_to_integer(NS), W = list_to_integer(WS),
    MA = mk(N - 1, N, []), MB = mk(N - 1, N, []),
    T0 = erlang:monotonic_time(millisecond),
    Per = (N + W - 1) div W, Me = self(),
    [spawn(fun() -> worker(MA, MB, I * Per, min(N, (I + 1) * Per) - 1, N, I, Me) end) || I <- lists:seq(0, W - 1)],
    R = collect(0, W, 0),
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~b elapsed_ms=~b~n", [R, T1 - T0]),
    erlang:halt(0).
