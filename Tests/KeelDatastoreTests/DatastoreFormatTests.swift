import Testing
import KeelDatastore
