-module(trap).
-export([main/1]).
f(X) ->
    A = math:sqrt(1.0 + X * X), B = math:exp(0.0 - 0.1 * X),
    (A * B * math:sin(X)) / (1.0 + 0.5 * X).
integ(N, N, _L, _H, Acc) -> Acc;
integ(I, N, L, H, Acc) ->
    X = L + I * H,
    integ(I + 1, N, L, H, Acc + 0.5 * H * (f(X) + f(X + H))).
worker(Idx, L, H, N, Master) -> Master ! {part, Idx, integ(0, N, L, H, 0.0)}.
collect(W, W, Acc) -> Acc;
collect(I, W, Acc) -> receive {part, I, V} -> collect(I + 1, W, Acc + V) end.
main([NS, WS]) ->
    N = list_to_integer(NS), W = list_to_integer(WS),
    T0 = erlang:monotonic_time(millisecond),
    Width = 10.0 / W, PN = N div W, H = Width / PN, Me = self(),
    [spawn(fun() -> worker(I, 0.0 + I * Width, H, PN, Me) end) || I <- lists:seq(0, W - 1)],
    R = collect(0, W, 0.0),
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~b elapsed_ms=~b~n", [round(R * 1000000000.0), T1 - T0]),
    erlang:halt(0).
