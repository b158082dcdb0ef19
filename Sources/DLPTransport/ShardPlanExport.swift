// `ShardPlan` lives in DLPTensor (the training step splits batches with it too); the
// collectives name it as their own.
@_exported import struct DLPTensor.ShardPlan
