# pingpong: two pairs of processes that talk all the time, each pair
# spawned on two different VMs: affinity should put each pair on one VM.
#   shoal simulate --topology "pack:1 core:2 pu:1" --policy affinity --workload examples/workloads/pingpong.wl
proc server count=2 vm=1 serve=0.001
proc client count=2 vm=0 talk=server rounds=200000 think=0.001
