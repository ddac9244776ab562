%% bmigrate: peer of bench/migrate.shoal. For each SIZE (bytes) a fresh
%% process builds a list of SIZE/16 integers (SIZE/8 words: a cons cell is
%% two words), then moves it: it sends the list to a freshly spawned
%% process, which sends it back (two deep copies and a spawn). Each move is
%% timed on its own with erlang:monotonic_time(nanosecond); moves are
%% repeated until MAX_MOVES moves or BUDGET_MS are reached (at least
%% MIN_MOVES).
%%   erl -noshell -pa EBIN -run bmigrate main BUDGET_MS MIN_MOVES MAX_MOVES SIZE...
%% Output, one line per size:
%%   RESULT kind=beam_copy bytes=S words=W moves=M move_ns=n1,n2,...
-module(bmigrate).
-export([main/1]).

move(L) ->
    Me = self(),
    T0 = erlang:monotonic_time(nanosecond),
    Q = spawn(fun() -> receive {From, X} -> From ! {self(), X} end end),
    Q ! {Me, L},
    receive {Q, _} -> ok end,
    erlang:monotonic_time(nanosecond) - T0.

moves(L, Budget, Min, Max, Spent, Acc) ->
    N = length(Acc),
    if
        N >= Max -> lists:reverse(Acc);
        N >= Min, Spent >= Budget -> lists:reverse(Acc);
        true -> T = move(L), moves(L, Budget, Min, Max, Spent + T, [T | Acc])
    end.

run_size(Bytes, Budget, Min, Max, Parent) ->
    L = lists:seq(1, Bytes div 16),
    Words = erts_debug:flat_size(L),
    Samples = moves(L, Budget * 1000000, Min, Max, 0, []),
    io:format("RESULT kind=beam_copy bytes=~b words=~b moves=~b move_ns=~s~n",
              [Bytes, Words, length(Samples),
               lists:join(",", [integer_to_list(S) || S <- Samples])]),
    Parent ! done.

main([BS, MinS, MaxS | Sizes]) ->
    Budget = list_to_integer(BS), Min = list_to_integer(MinS), Max = list_to_integer(MaxS),
    Me = self(),
    lists:foreach(fun(S) ->
                          spawn(fun() -> run_size(list_to_integer(S), Budget, Min, Max, Me) end),
                          receive done -> ok end
                  end, Sizes),
    erlang:halt(0).
