import DLP
