// Local control plane (see issue 4).
