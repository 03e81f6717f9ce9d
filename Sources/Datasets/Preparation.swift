import Catalog
import Foundation
import JSONText
import MSCCore

/// Everything `mscgrec-trainer prepare` needs to know.
public struct PreparationOptions: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case lcrec, amazon2023, recbole, csv

        public static func parse(_ text: String) throws -> Format {
            guard let format = Format(rawValue: text.lowercased()) else { throw DatasetError.unknownFormat(text) }
            return format
        }
    }

    public var format: Format
    /// Directory (lcrec, recbole) or file (csv).
    public var input: String?
    public var name: String?
    /// Amazon 2023 reviews and meta JSON Lines files.
    public var reviews: String?
    public var meta: String?
    /// Item metadata JSON keyed by item id, for csv and recbole.
    public var itemsFile: String?
    /// CSV delimiter; nil sniffs it.
    public var delimiter: UInt8?
    public var output: String
    public var maxHistory = 20
    public var targetMode = TargetMode.all
    public var preprocessing = PreprocessingOptions()

    public init(format: Format, output: String) {
        self.format = format
        self.output = output
    }
}

public struct PreparationResult: Sendable {
    public var workDirectory: URL
    public var info: PreparedInfo
    public var stats: DatasetStats
    public var notes: [String]
}

/// The whole `prepare` stage: read any format, filter (paper 4.1), split, and publish a work directory.
public enum DatasetPreparation {
    public static func readRaw(_ options: PreparationOptions, progress: (String) -> Void) throws -> RawDataset {
        func required(_ value: String?, _ flag: String) throws -> String {
            guard let value, !value.isEmpty else {
                throw DatasetError.invalidOptions("--format \(options.format.rawValue) needs \(flag)")
            }
            return value
        }
        switch options.format {
        case .lcrec:
            return try LCRecReader.read(directory: required(options.input, "--input DIR"), name: options.name, progress: progress)
        case .recbole:
            return try RecBoleReader.read(
                directory: required(options.input, "--input DIR"), name: options.name, itemsFile: options.itemsFile, progress: progress)
        case .csv:
            return try CSVReader.read(
                path: required(options.input, "--input FILE"), name: options.name, delimiter: options.delimiter,
                itemsFile: options.itemsFile, progress: progress)
        case .amazon2023:
            let reviews = try required(options.reviews, "--reviews FILE")
            let name = options.name ?? CSVReader.defaultName((reviews as NSString).lastPathComponent.replacingOccurrences(of: ".jsonl", with: ""))
            return try Amazon2023Reader.read(reviews: reviews, meta: options.meta, name: name, progress: progress)
        }
    }

    public static func run(_ options: PreparationOptions, progress: (String) -> Void) throws -> PreparationResult {
        guard options.maxHistory >= 1 else { throw DatasetError.invalidOptions("--max-history must be at least 1") }
        guard options.preprocessing.minCount >= 0 else { throw DatasetError.invalidOptions("--min-count must not be negative") }
        let destination = URL(fileURLWithPath: options.output).standardizedFileURL
        try WorkDirectory.checkReplaceable(destination)

        let raw = try readRaw(options, progress: progress)
        for note in raw.notes { progress("note: \(note)") }
        guard raw.interactionCount > 0 else { throw DatasetError.emptyAfterFiltering("the input has no interactions") }
        let filtered = try Preprocessing.run(raw, options: options.preprocessing, progress: progress)

        let info = PreparedInfo(
            name: raw.name, sourceFormat: raw.sourceFormat, maxHistory: options.maxHistory, targetMode: options.targetMode,
            minCount: options.preprocessing.minCount, users: filtered.sequences.userCount, items: filtered.sequences.itemCount,
            interactions: filtered.sequences.interactionCount, hasTimestamps: filtered.sequences.timestamps != nil,
            preprocessing: filtered.report, createdBy: "mscgrec \(MSCGRecVersion.string)")
        let dataset = PreparedDataset(info: info, sequences: filtered.sequences)
        let stats = DatasetStats(dataset)

        try WorkDirectory.publish(at: destination) { staging in
            try PreparedFile.write(dataset, to: WorkDirectory.datasetURL(staging))
            try writeCatalog(filtered, raw: raw, to: WorkDirectory.catalogURL(staging), progress: progress)
            let summary = summaryJSON(info: info, options: options, stats: stats, notes: raw.notes)
            try Data(summary.utf8).write(to: WorkDirectory.summaryURL(staging))
        }
        progress("wrote \(destination.path)")
        return PreparationResult(workDirectory: destination, info: info, stats: stats, notes: raw.notes)
    }

    private static func writeCatalog(_ filtered: FilteredData, raw: RawDataset, to url: URL, progress: (String) -> Void) throws {
        var meta = [
            "dataset": raw.name, "source_format": raw.sourceFormat, "created_by": "mscgrec \(MSCGRecVersion.string)",
            "item_index": "dense 0..<count in dataset.bin order; models reserve 0 for padding and use index + 1",
        ]
        if let root = raw.imageRoot { meta["image_root"] = root }
        let catalog = try ItemCatalog.create(at: url, meta: meta)
        try catalog.appendItems(filtered.items.enumerated().lazy.map { index, record in
            CatalogItem(
                index: index, externalID: record.externalID, title: record.title, description: record.description,
                brand: record.brand, categories: record.categories, image: record.image, attributes: record.attributes)
        })
        for set in filtered.codeSets {
            var sizes = [Int](repeating: 1, count: set.levels)
            for item in 0..<set.present.count where set.present[item] {
                for level in 0..<set.levels { sizes[level] = max(sizes[level], Int(set.codes[item * set.levels + level]) + 1) }
            }
            try catalog.write(codes: ModalityCodes(
                modality: set.name, levels: set.levels, codebookSizes: sizes,
                source: "precomputed:" + (set.file as NSString).lastPathComponent, codes: set.codes, present: set.present))
            progress("catalog: \(set.present.filter { $0 }.count) items with precomputed codes \"\(set.name)\" (\(set.levels) levels)")
        }
        progress("catalog: \(filtered.items.count) items")
    }

    private static func summaryJSON(info: PreparedInfo, options: PreparationOptions, stats: DatasetStats, notes: [String]) -> String {
        var json = JSONObjectWriter()
        json.add("name", info.name)
        json.add("format", info.sourceFormat)
        json.add("input", options.input ?? options.reviews ?? "")
        if let meta = options.meta { json.add("meta", meta) }
        json.add("min_count", info.minCount)
        json.add("max_history", info.maxHistory)
        json.add("target_mode", info.targetMode.rawValue)
        json.add("deduplicate_images", options.preprocessing.deduplicateImages)
        json.add("require_images", options.preprocessing.requireImages)
        let report = info.preprocessing
        var before = JSONObjectWriter()
        before.add("users", report.rawUsers)
        before.add("items", report.rawItems)
        before.add("interactions", report.rawInteractions)
        json.addRaw("before", before.finish())
        json.add("items_without_image", report.itemsWithoutImage)
        json.add("items_merged_by_image", report.itemsMergedByImage)
        json.add("k_core_passes", report.kCoreRounds)
        json.addRaw("stats", stats.json())
        json.add("notes", notes)
        return json.finish(pretty: true) + "\n"
    }
}
