import Foundation
import SafeTensors
import TestSupport

/// This target's fixtures (Tests/<target>/Fixtures).
func loadFixture(_ relativePath: String) throws -> SafeTensors { try loadFixture(relativePath, in: Bundle.module) }
