// AWS SigV4 signer (see issue 3).
