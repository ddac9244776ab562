%% bmigrate: peer of the migrate workload's copy baseline
%% (bench/migrate_copy.shoal). For each SIZE (bytes) a fresh process builds
%% a list of SIZE/16 integers (SIZE/8 words: a cons cell is two words).
%% One move is one deep copy of that list: it is sent to a fresh process,
%% spawned and waiting in receive before the clock starts, which answers
%% `ok` and ends. The clock (erlang:monotonic_time(nanosecond)) runs from
%% the send to the answer, so the spawn is not counted, and no collection
%% runs in it: the receiver takes the list as a message and ends, and the
%% mover's heap only gets the small answer. Moves are repeated until
%% MAX_MOVES moves or BUDGET_MS are reached (at least MIN_MOVES).
%%   erl -noshell -pa EBIN -run bmigrate main BUDGET_MS MIN_MOVES MAX_MOVES SIZE...
%% Output, one line per size:
%%   RESULT kind=beam_copy bytes=S words=W moves=M move_ns=n1,n2,...
-module(bmigrate).
-export([main/1]).

receiver(Mover) ->
    Mover ! {self(), ready},
    receive {From, _List} -> From ! {self(), ok} end.

move(L) ->
    Me = self(),
    Q = spawn(fun() -> receiver(Me) end),
    receive {Q, ready} -> ok end,
    T0 = erlang:monotonic_time(nanosecond),
    Q ! {Me, L},
    receive {Q, ok} -> ok end,
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
    _ = move(L), % warm-up, not counted (as the shoal side's)
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
