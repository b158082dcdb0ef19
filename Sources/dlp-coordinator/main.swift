import DLPCommands
import DLPTensor

// Before anything else: OpenBLAS's kernels are fixed when it loads (see BLASKernelChoice).
BLASKernelChoice.reexecWithPreferredKernels()
CoordinatorCommand.main()
