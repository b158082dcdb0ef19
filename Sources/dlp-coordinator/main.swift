import DLPCommands

CoordinatorCommand.main()
