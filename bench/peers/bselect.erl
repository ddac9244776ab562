%% bselect: selective receive past a backlog (peer of bench/select.shoal).
%% A client with B unrelated messages in its mailbox calls a server K
%% times: a fresh ref with each request, a receive of the reply naming it.
%%   erl -noshell +S 1:1 -pa EBIN -run bselect main B K
-module(bselect).
-export([main/1]).

server() ->
    receive
        {From, Ref, X} -> From ! {Ref, X + 1}, server();
        stop -> ok
    end.

fill(0) -> ok;
fill(K) -> self() ! {junk, K}, fill(K - 1).

call(_, 0, Acc) -> Acc;
call(Srv, K, Acc) ->
    R = make_ref(),
    Srv ! {self(), R, K},
    receive {R, V} -> call(Srv, K - 1, Acc + V) end.

main([BS, KS]) ->
    B = list_to_integer(BS),
    K = list_to_integer(KS),
    Srv = spawn(fun server/0),
    fill(B),
    T0 = erlang:monotonic_time(nanosecond),
    Sum = call(Srv, K, 0),
    T1 = erlang:monotonic_time(nanosecond),
    Srv ! stop,
    io:format("RESULT value=~.1f unit=ns/call elapsed_ms=~.3f count=~b backlog=~b check=~b~n",
              [(T1 - T0) / K, (T1 - T0) / 1.0e6, K, B, Sum]),
    erlang:halt(0).
