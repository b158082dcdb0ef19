import DLPCommands

WorkerCommand.main()
