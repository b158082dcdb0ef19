/* placeholder until scripts/gen-proto runs */
