/// The datastore's on-disk format: see the types in this module.
public enum DatastoreFormat {}
