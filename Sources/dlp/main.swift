import DLPCommands

DLPCommand.main()
