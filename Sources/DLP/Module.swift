@_exported import DLPData
@_exported import DLPTensor
