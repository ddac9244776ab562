-module(bank).
-export([main/1]).
lcg(X) -> (X * 1103515245 + 12345) rem 2147483648.
account(Bal) ->
    receive
        {transfer, Amt, Dst, Teller} ->
            Ref = make_ref(),
            Dst ! {credit, Amt, self(), Ref},
            account_wait(Bal - Amt, Ref, Teller);
        {credit, Amt, From, Ref} -> From ! {credited, Ref}, account(Bal + Amt);
        {stop, From} -> From ! {bal, Bal}
    end.
account_wait(Bal, Ref, Teller) ->
    receive
        {credited, Ref} -> Teller ! done, account(Bal);
        {credit, Amt, From, R2} -> From ! {credited, R2}, account_wait(Bal + Amt, Ref, Teller)
    end.
issue(Accts, NA, X) ->
    X1 = lcg(X), X2 = lcg(X1),
    S = (X1 bsr 4) rem NA,
    D0 = (X2 bsr 4) rem (NA - 1),
    D = if D0 >= S -> D0 + 1; true -> D0 end,
    element(S + 1, Accts) ! {transfer, X2 rem 100, element(D + 1, Accts), self()},
    X2.
teller(_, _, 0, 0, _, Done) -> Done;
teller(Accts, NA, Left, Inflight, X, Done) ->
    receive done ->
        if Left > 0 -> teller(Accts, NA, Left - 1, Inflight, issue(Accts, NA, X), Done + 1);
           true -> teller(Accts, NA, Left, Inflight - 1, X, Done + 1)
        end
    end.
prime(_, _, 0, X) -> X;
prime(Accts, NA, K, X) -> prime(Accts, NA, K - 1, issue(Accts, NA, X)).
total(_, N, N, Acc) -> Acc;
total(Accts, I, N, Acc) ->
    element(I + 1, Accts) ! {stop, self()},
    receive {bal, B} -> total(Accts, I + 1, N, Acc + (I + 1) * B) end.
main([AS, TS, WS]) ->
    [NA, NT, W] = [list_to_integer(X) || X <- [AS, TS, WS]],
    T0 = erlang:monotonic_time(millisecond),
    Accts = list_to_tuple([spawn(fun() -> account(10000) end) || _ <- lists:seq(1, NA)]),
    X = prime(Accts, NA, W, 7),
    Done = teller(Accts, NA, NT - W, W, X, 0),
    Tot = total(Accts, 0, NA, 0),
    T1 = erlang:monotonic_time(millisecond),
    io:format("RESULT value=~b/~b elapsed_ms=~b~n", [Done, Tot, T1 - T0]),
    erlang:halt(0).
