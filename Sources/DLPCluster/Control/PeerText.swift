import DLPTransport

/// Text a peer chose (a worker id, a host name, an error report), made safe for a log line or an
/// error message: control and format characters are escaped (a newline in a Hello's worker id
/// could otherwise forge whole log lines, a bidi override hide what a line says), and the text is
/// cut at `limit` characters.
enum PeerText {
  static func loggable(_ text: String, limit: Int = 128) -> String {
    var out = ""
    var count = 0
    for scalar in text.unicodeScalars {
      if count == limit {
        out += "…"
        break
      }
      count += 1
      switch scalar.properties.generalCategory {
      case .control, .format, .lineSeparator, .paragraphSeparator:
        out += scalar.escaped(asASCII: true)
      default:
        out.unicodeScalars.append(scalar)
      }
    }
    return out
  }
}

extension ErrorReportMessage {
  /// The report's text as a log line may carry it.
  var loggableText: String { PeerText.loggable(text, limit: 4096) }
}
