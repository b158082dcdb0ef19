import ArgumentParser
import DLP
import DLPTransport
import Foundation

/// `dlp keygen`: a CURVE key pair for a coordinator or a worker.
struct KeygenCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "keygen",
    abstract: "Make a CURVE key pair (NAME.key, NAME.key_secret) for a coordinator or a worker.",
    discussion: """
      Writes DIR/NAME.key (the public key: 40 Z85 characters; copy it to the peers that must \
      trust this one) and DIR/NAME.key_secret (the secret key, mode 0600; it never leaves this \
      host). DIR is created with mode 0700 when missing. Existing files are kept unless --force.

      A coordinator runs with --curve-secret-key coordinator.key_secret --authorized-keys DIR \
      (a folder holding each worker's NAME.key); a worker with --curve-secret-key \
      NAME.key_secret --coordinator-key coordinator.key.
      """)

  @Option(help: "Folder to write the key files to.") var outputDir: String
  @Option(help: "Base name of the key files (letters, digits, '.', '_', '-').") var name: String
  @Flag(help: "Replace existing key files (peers holding the old public key are then refused).")
  var force = false

  func run() throws {
    try reportingErrors {
      let pair = try CurveKeyPair.generate()
      let paths = try KeyFiles.write(pair, name: name, in: outputDir, force: force)
      printLine("public key \(pair.publicKey.z85)")
      printLine("wrote \(paths.public) and \(paths.secret) (mode 0600)")
    }
  }
}
