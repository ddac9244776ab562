# skew: 64 CPU-bound workers, all spawned on VM 0 (bench/skew.shoal's
# shape): the makespan shows how well a policy spreads them.
#   shoal simulate --topology "pack:1 core:2 pu:1" --policy steal --workload examples/workloads/skew.wl
proc worker count=64 vm=0 cpu=30 jitter=10
