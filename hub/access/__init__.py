"""Access control: who may do what on the brokers and in the schema registry (see ``catalogue``)."""
