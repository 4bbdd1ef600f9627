import AWSSigV4
