// Kubernetes API client (see issue 4).
