"""Wire layer: the Avro codec with Confluent framing, the registry client, CloudEvents headers, topics."""
