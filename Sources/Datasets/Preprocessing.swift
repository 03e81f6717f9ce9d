import Foundation

/// The paper's preprocessing (section 4.1), applied identically to every input format.
public struct PreprocessingOptions: Sendable, Equatable {
    /// k of the iterative k-core: users and items with fewer interactions are removed until none are left.
    /// 0 or 1 disables it. Users always need 3 interactions, the minimum for a leave-one-out split with a training item.
    public var minCount = 5
    /// Map items sharing an identical main image URL onto one id (the smallest external id wins).
    public var deduplicateImages = false
    /// Remove interactions with items whose image is missing, a placeholder, or (for local paths) an absent file.
    public var requireImages = false
    /// Substrings that mark an image URL as a placeholder.
    public var placeholderImagePatterns = PreprocessingOptions.defaultPlaceholderPatterns

    public static let defaultPlaceholderPatterns = ["no-img", "no_image", "no-image", "noimage", "placeholder", "transparent-pixel", "grey-pixel"]

    public init() {}

    public static let minimumUserInteractions = 3
}

/// Counts before and after each step, for the summary and progress output.
public struct PreprocessingReport: Sendable, Equatable, Codable {
    public var rawUsers = 0, rawItems = 0, rawInteractions = 0
    public var itemsWithoutImage = 0, interactionsWithoutImage = 0
    public var itemsMergedByImage = 0
    public var kCoreRounds = 0
    public var users = 0, items = 0, interactions = 0
}

/// The filtered, re-indexed data: what the work directory stores.
struct FilteredData {
    var sequences: PreparedSequences
    /// Item records in internal index order.
    var items: [ItemRecord]
    var codeSets: [PrecomputedCodeSet]
    var report: PreprocessingReport
}

enum Preprocessing {
    static func run(_ raw: RawDataset, options: PreprocessingOptions, progress: (String) -> Void) throws -> FilteredData {
        var report = PreprocessingReport(rawUsers: raw.userKeys.count, rawItems: raw.items.count, rawInteractions: raw.interactionCount)
        var items = raw.items
        // Raw item → representative raw item, or -1 when removed.
        var representative = [Int32](0..<Int32(items.count))

        if options.requireImages {
            let root = raw.imageRoot
            for index in items.indices where !hasUsableImage(items[index].image, root: root, placeholders: options.placeholderImagePatterns) {
                representative[index] = -1
                report.itemsWithoutImage += 1
            }
            progress("image filter: \(report.itemsWithoutImage) items lack a usable image")
        }
        if options.deduplicateImages {
            var firstWithImage: [String: Int32] = [:]
            for index in canonicalOrder(of: items.map(\.externalID)) where representative[index] >= 0 {
                guard let url = items[index].image, !url.isEmpty else { continue }
                if let keeper = firstWithImage[url] {
                    representative[index] = keeper
                    let merged = items[Int(keeper)].attributes["merged_ids"].map { $0 + "," } ?? ""
                    items[Int(keeper)].attributes["merged_ids"] = merged + items[index].externalID
                    report.itemsMergedByImage += 1
                } else {
                    firstWithImage[url] = Int32(index)
                }
            }
            progress("image de-duplication: \(report.itemsMergedByImage) items merged onto an item with the same image")
        }

        let count = raw.interactionCount
        var itemOf = [Int32](repeating: -1, count: count)
        var alive = [Bool](repeating: false, count: count)
        var userCount = [Int32](repeating: 0, count: raw.userKeys.count)
        var itemCount = [Int32](repeating: 0, count: items.count)
        for index in 0..<count {
            let item = representative[Int(raw.interactionItem[index])]
            if item < 0 {
                report.interactionsWithoutImage += 1
                continue
            }
            itemOf[index] = item
            alive[index] = true
            userCount[Int(raw.interactionUser[index])] += 1
            itemCount[Int(item)] += 1
        }

        // Iterative k-core: removing a user's interactions can push an item below k and vice versa, so repeat until
        // a pass removes nothing. The result (the k-core) does not depend on the order of removal.
        let userMinimum = Int32(max(options.minCount, PreprocessingOptions.minimumUserInteractions))
        let itemMinimum = Int32(max(options.minCount, 1))
        var removedInPass = 1
        while removedInPass > 0 {
            removedInPass = 0
            for index in 0..<count where alive[index] {
                let user = Int(raw.interactionUser[index])
                let item = Int(itemOf[index])
                if userCount[user] < userMinimum || itemCount[item] < itemMinimum {
                    alive[index] = false
                    userCount[user] -= 1
                    itemCount[item] -= 1
                    removedInPass += 1
                }
            }
            report.kCoreRounds += 1
        }

        let keptUsers = canonicalOrder(of: raw.userKeys).filter { userCount[$0] > 0 }
        let keptItems = canonicalOrder(of: items.map(\.externalID)).filter { itemCount[$0] > 0 }
        guard !keptUsers.isEmpty, !keptItems.isEmpty else {
            throw DatasetError.emptyAfterFiltering(
                "\(report.rawUsers) users, \(report.rawItems) items, \(report.rawInteractions) interactions before; "
                    + "\(report.interactionsWithoutImage) interactions removed for images; the \(options.minCount)-core "
                    + "(users need at least \(userMinimum), items \(itemMinimum) interactions) is empty")
        }
        var userIndex = [Int32](repeating: -1, count: raw.userKeys.count)
        for (dense, user) in keptUsers.enumerated() { userIndex[user] = Int32(dense) }
        var itemIndex = [Int32](repeating: -1, count: items.count)
        for (dense, item) in keptItems.enumerated() { itemIndex[item] = Int32(dense) }

        // CSR by user in source order, then a stable chronological sort within each user.
        var offsets = [Int](repeating: 0, count: keptUsers.count + 1)
        for (dense, user) in keptUsers.enumerated() { offsets[dense + 1] = offsets[dense] + Int(userCount[user]) }
        let total = offsets[keptUsers.count]
        var sequenceItems = [Int32](repeating: 0, count: total)
        var sequenceTimes = [Double](repeating: 0, count: total)
        var fill = offsets
        for index in 0..<count where alive[index] {
            let user = Int(userIndex[Int(raw.interactionUser[index])])
            sequenceItems[fill[user]] = itemIndex[Int(itemOf[index])]
            sequenceTimes[fill[user]] = raw.interactionTime[index]
            fill[user] += 1
        }
        for user in 0..<keptUsers.count {
            sortChronologically(&sequenceItems, &sequenceTimes, offsets[user]..<offsets[user + 1])
        }

        report.users = keptUsers.count
        report.items = keptItems.count
        report.interactions = total
        progress("\(options.minCount)-core after \(report.kCoreRounds) passes: \(report.users) users, \(report.items) items, \(report.interactions) interactions")

        let sequences = PreparedSequences(
            itemCount: keptItems.count, userIDs: keptUsers.map { raw.userKeys[$0] }, offsets: offsets, items: sequenceItems,
            timestamps: raw.hasTimestamps ? sequenceTimes : nil)
        let codeSets = raw.precomputedCodes.map { set in
            var codes = [Int32](repeating: 0, count: keptItems.count * set.levels)
            var present = [Bool](repeating: false, count: keptItems.count)
            for (dense, item) in keptItems.enumerated() where set.present[item] {
                codes.replaceSubrange(dense * set.levels..<(dense + 1) * set.levels, with: set.codes[item * set.levels..<(item + 1) * set.levels])
                present[dense] = true
            }
            return PrecomputedCodeSet(name: set.name, file: set.file, levels: set.levels, codes: codes, present: present)
        }
        return FilteredData(sequences: sequences, items: keptItems.map { items[$0] }, codeSets: codeSets, report: report)
    }

    /// Stable by time; source order breaks ties (same-second MovieLens ratings keep their file order).
    private static func sortChronologically(_ items: inout [Int32], _ times: inout [Double], _ range: Range<Int>) {
        var sorted = true
        for index in range.dropFirst() where times[index] < times[index - 1] {
            sorted = false
            break
        }
        if sorted { return }
        let order = range.sorted { times[$0] != times[$1] ? times[$0] < times[$1] : $0 < $1 }
        let newItems = order.map { items[$0] }
        let newTimes = order.map { times[$0] }
        items.replaceSubrange(range, with: newItems)
        times.replaceSubrange(range, with: newTimes)
    }

    static func hasUsableImage(_ image: String?, root: String?, placeholders: [String]) -> Bool {
        guard let image = image?.trimmingCharacters(in: .whitespaces), !image.isEmpty else { return false }
        let lowered = image.lowercased()
        if placeholders.contains(where: { !$0.isEmpty && lowered.contains($0.lowercased()) }) { return false }
        if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") { return true }
        let path = image.hasPrefix("/") || root == nil ? image : (root! as NSString).appendingPathComponent(image)
        return FileManager.default.fileExists(atPath: path)
    }
}
