// Fault-injecting ECR HTTP server (see FaultInjectingServer.swift).
