import ArgumentParser
import Datasets
import Foundation

/// `prepare`: raw data in one of four layouts → a work directory (dataset.bin, catalog.sqlite, prepare.json)
/// following the paper's protocol (section 4.1).
struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Read a dataset, filter it (k-core, images), split it leave-one-out and write a work directory.",
        discussion: """
            Formats and their inputs:
              lcrec       --input DIR [--name NAME]   <NAME>.inter.json; optional
                          <NAME>.item.json, <NAME>.index*.json, <NAME>.item2id
              amazon2023  --reviews FILE [--meta FILE]   Amazon Reviews 2023
                          JSON Lines, plain or .gz; items are named by parent_asin
              recbole     --input DIR [--name NAME]   <NAME>.inter; items from
                          --items, <NAME>.item.json or <NAME>.item
              csv         --input FILE   user,item[,timestamp], CSV or TSV
            Output: WORK/dataset.bin (sequences; last item test, second last
            validation), WORK/catalog.sqlite (items by external id) and
            WORK/prepare.json (summary). Progress goes to stderr.
            """)

    @Option(help: "Input layout: lcrec, amazon2023, recbole or csv.")
    var format: String

    @Option(help: "Dataset directory (lcrec, recbole) or file (csv).")
    var input: String?

    @Option(help: "Dataset name, the <NAME> of its files (default: inferred).")
    var name: String?

    @Option(help: "Amazon 2023 reviews JSON Lines file (.jsonl or .jsonl.gz).")
    var reviews: String?

    @Option(help: "Amazon 2023 meta JSON Lines file (.jsonl or .jsonl.gz).")
    var meta: String?

    @Option(help: "Item metadata JSON object keyed by item id (csv, recbole).")
    var items: String?

    @Option(help: "CSV delimiter: comma, tab, or a single character (default: sniffed).")
    var delimiter: String?

    @Option(name: .customLong("out"), help: "Work directory to create (replaced if it is a previous work directory).")
    var output: String

    @Option(help: "k of the iterative k-core filter on users and items (0 disables; users always keep at least 3).")
    var minCount = 5

    @Option(help: "Maximum history length of training and evaluation examples.")
    var maxHistory = 20

    @Option(help: "Training targets: all (every training item, Amazon setting) or last (PixelRec setting).")
    var targetMode = "all"

    @Flag(help: "Map items with an identical main image URL onto one id.")
    var dedupImages = false

    @Flag(help: "Remove items with an empty or placeholder image (or a missing local image file).")
    var requireImages = false

    @Option(parsing: .singleValue, help: "Substring marking a placeholder image URL (repeatable; replaces the defaults).")
    var placeholderImage: [String] = []

    @Flag(help: "No progress output.")
    var quiet = false

    func validate() throws {
        do { _ = try PreparationOptions.Format.parse(format) } catch { throw ValidationError("\(error)") }
        guard TargetMode(rawValue: targetMode) != nil else { throw ValidationError("--target-mode must be all or last") }
        if let delimiter { _ = try parseDelimiter(delimiter) }
    }

    private func parseDelimiter(_ text: String) throws -> UInt8 {
        switch text.lowercased() {
        case "comma", ",": return UInt8(ascii: ",")
        case "tab", "\\t", "\t": return 0x09
        case "semicolon", ";": return UInt8(ascii: ";")
        default:
            guard text.utf8.count == 1, let byte = text.utf8.first else { throw ValidationError("--delimiter must be comma, tab or one character") }
            return byte
        }
    }

    func run() throws {
        var options = PreparationOptions(format: try PreparationOptions.Format.parse(format), output: output)
        options.input = input
        options.name = name
        options.reviews = reviews
        options.meta = meta
        options.itemsFile = items
        options.delimiter = try delimiter.map(parseDelimiter)
        options.maxHistory = maxHistory
        options.targetMode = TargetMode(rawValue: targetMode)!
        options.preprocessing.minCount = minCount
        options.preprocessing.deduplicateImages = dedupImages
        options.preprocessing.requireImages = requireImages
        if !placeholderImage.isEmpty { options.preprocessing.placeholderImagePatterns = placeholderImage }

        let clock = ContinuousClock()
        let start = clock.now
        let progress = ProgressLog(quiet: quiet, start: start)
        let result = try DatasetPreparation.run(options, progress: progress.log)
        print(result.stats.text())
        let elapsed = (clock.now - start)
        progress.finish("prepared \(result.info.name) in \(elapsed.formattedSeconds), peak memory \(peakMemoryMiB()) MiB")
    }
}

/// Timestamped progress lines on stderr, so stdout stays clean for results.
struct ProgressLog: Sendable {
    let quiet: Bool
    let start: ContinuousClock.Instant

    func log(_ message: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data("[\((ContinuousClock.now - start).formattedSeconds)] \(message)\n".utf8))
    }

    /// Always printed: the measured figures are what the data benchmark reads.
    func finish(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }
}

extension Duration {
    var formattedSeconds: String {
        let seconds = Double(components.seconds) + Double(components.attoseconds) * 1e-18
        return String(format: "%.2f s", seconds)
    }
}

/// Peak resident set size of this process (Linux reports KiB, macOS bytes).
func peakMemoryMiB() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) / 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss) / (1024 * 1024)
    #endif
}
