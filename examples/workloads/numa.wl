# numa: a burst of short jobs on VM 0 of a two-node machine, then a long
# tail on the other node: stealing should stay on node 0 until VM 0's
# queue passes remote_min, and the remote-memory time shows the price of
# moving across nodes.
#   shoal simulate --topology "pack:2 numa:1 core:2 pu:1" --policy steal --workload examples/workloads/numa.wl
proc burst count=40 vm=0 cpu=2
proc tail count=6 vm=2 at=5 cpu=20
