import DLPTensor
