%% bmemory: bytes per idle process (peer side of the memory workload).
%% Spawns N processes that wait in receive, then averages
%% process_info(P, memory) over them. Needs +P above N.
%%   erl -noshell +P 2000000 -pa EBIN -run bmemory main N
-module(bmemory).
-export([main/1]).

idle() -> receive stop -> ok end.

main([NS]) ->
    N = list_to_integer(NS),
    M0 = erlang:memory(processes),
    Pids = [spawn(fun idle/0) || _ <- lists:seq(1, N)],
    %% Let every process reach its receive before measuring.
    timer:sleep(200),
    Sum = lists:foldl(fun(P, Acc) ->
                              {memory, B} = erlang:process_info(P, memory),
                              Acc + B
                      end, 0, Pids),
    M1 = erlang:memory(processes),
    io:format("RESULT value=~.1f unit=bytes/process count=~b erlang_memory_processes_delta_per_process=~.1f~n",
              [Sum / N, N, (M1 - M0) / N]),
    erlang:halt(0).
