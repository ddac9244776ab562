%% bkernels: the peer of bench/kernels.shoal, the same loops.
%%   erl -noshell +S 1 -pa EBIN -run bkernels main N
%% One RESULT line per kernel: ns of CPU time (statistics(runtime), ms
%% resolution: N must make each kernel take well over 100 ms) per iteration.
-module(bkernels).
-export([main/1]).

floop(0, _X, Acc) -> Acc;
floop(I, X, Acc) -> floop(I - 1, X + 0.001, Acc + X * X * 0.5).

tloop(0, T) -> T;
tloop(I, T) ->
    case T of
        {A, B, C} -> tloop(I - 1, {B, C, A + 1})
    end.

cloop(0, _F, Acc) -> Acc;
cloop(I, F, Acc) -> cloop(I - 1, F, F(Acc)).

lloop(0, _L, Acc) -> Acc;
lloop(K, L, Acc) ->
    lloop(K - 1, L, Acc + lists:foldl(fun(X, S) -> X + S end, 0,
                                      lists:map(fun(X) -> X * 2 end, L))).

timed(Name, N, Thunk) ->
    {T0, _} = statistics(runtime),
    R = Thunk(),
    {T1, _} = statistics(runtime),
    io:format("RESULT value=~.3f unit=ns kernel=~s check=~p~n",
              [(T1 - T0) * 1.0e6 / N, Name, R]).

main([NS]) ->
    N = list_to_integer(NS),
    K = 3,
    timed("float", N, fun() -> trunc(floop(N, 1.0, 0.0)) end),
    timed("tuple", N, fun() -> element(1, tloop(N, {0, 1, 2})) end),
    timed("closure", N, fun() -> cloop(N, fun(X) -> X + K end, 0) end),
    timed("list", N, fun() -> lloop(10, lists:seq(1, N div 10), 0) end),
    erlang:halt(0).
