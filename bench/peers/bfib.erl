%% bfib: naive Fibonacci in one process (peer of bench/fib.shoal).
%%   erl -noshell +S 1 -pa EBIN -run bfib main N K
%% Computes fib(N) K times in the timed section; prints ms per fib(N).
-module(bfib).
-export([main/1]).

fib(N) when N < 2 -> N;
fib(N) -> fib(N - 1) + fib(N - 2).

repeat(0, _N, R) -> R;
repeat(K, N, _R) -> repeat(K - 1, N, fib(N)).

main([NS, KS]) ->
    N = list_to_integer(NS), K = list_to_integer(KS),
    T0 = erlang:monotonic_time(microsecond),
    R = repeat(K, N, 0),
    T1 = erlang:monotonic_time(microsecond),
    io:format("fib ~b = ~b~n", [N, R]),
    io:format("RESULT value=~.3f unit=ms elapsed_ms=~.3f count=~b~n",
              [(T1 - T0) / 1000 / K, (T1 - T0) / 1000, K]),
    erlang:halt(0).
