import Dispatch
import Foundation

/// One image to read: the item's id, its reference as given (a path or a URL), and the other columns of its row.
public struct ImageEntry: Sendable, Equatable {
    public var id: String
    public var reference: String
    public var fields: [String: String]
    public init(id: String, reference: String, fields: [String: String] = [:]) {
        self.id = id; self.reference = reference; self.fields = fields
    }
}

public struct ImageSourceError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Where training and probing images come from: a folder of JPEG/PNG files (id = file name without extension) or a
/// CSV with an image column (paths relative to the CSV's folder) and an id column.
public enum ImageSource {
    public static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    /// The entries and the folder their references are relative to.
    public static func list(_ path: String, imageColumn: String = "image", idColumn: String = "id") throws -> (entries: [ImageEntry], root: URL) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImageSourceError("\(path): no such file or folder")
        }
        let url = URL(fileURLWithPath: path)
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            return (names.map { ImageEntry(id: ($0 as NSString).deletingPathExtension, reference: $0) }, url)
        }
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch { throw ImageSourceError("\(path): cannot read (\(error.localizedDescription))") }
        let rows = CSV.parse(text)
        guard let header = rows.first else { throw ImageSourceError("\(path): empty CSV") }
        guard let imageIndex = header.firstIndex(of: imageColumn) else {
            throw ImageSourceError("\(path): no column \"\(imageColumn)\" (columns: \(header.joined(separator: ", ")))")
        }
        let idIndex = header.firstIndex(of: idColumn)
        var entries: [ImageEntry] = []
        for (number, row) in rows.dropFirst().enumerated() where !(row.count == 1 && row[0].isEmpty) {
            guard row.count == header.count else {
                throw ImageSourceError("\(path): line \(number + 2) has \(row.count) fields, the header \(header.count)")
            }
            var fields: [String: String] = [:]
            for (name, value) in zip(header, row) { fields[name] = value }
            entries.append(ImageEntry(id: idIndex.map { row[$0] } ?? "\(number)", reference: row[imageIndex], fields: fields))
        }
        return (entries, url.deletingLastPathComponent())
    }
}

/// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks.
public enum CSV {
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        while let c = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = next }
                    } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
                continue
            }
            switch c {
            case "\"": quoted = true
            case ",": row.append(field); field = ""
            case "\r": break
            case "\n": row.append(field); rows.append(row); row = []; field = ""
            default: field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}

/// Turns an image reference into a local file: a path relative to `root` (the dataset's folder or the catalog's
/// `image_root`), an absolute path, or a URL whose file the user downloaded into `downloads` (found by its name).
public struct ImageResolver: Sendable {
    public var root: URL?
    public var downloads: URL?
    public init(root: URL?, downloads: URL? = nil) { self.root = root; self.downloads = downloads }

    public func url(for reference: String) throws -> URL {
        if reference.hasPrefix("http://") || reference.hasPrefix("https://") {
            guard let downloads, let name = URL(string: reference)?.lastPathComponent, !name.isEmpty else {
                throw ImageError.remote(reference: reference)
            }
            return downloads.appendingPathComponent(name)
        }
        if reference.hasPrefix("/") { return URL(fileURLWithPath: reference) }
        guard let root else { return URL(fileURLWithPath: reference) }
        return root.appendingPathComponent(reference)
    }
}

/// Images read for a list of entries: nil where the entry has no usable image, with the reason.
public struct LoadedImages: Sendable {
    public var images: [RGBImage?]
    /// (entry index, message naming the file) for every entry left without an image.
    public var problems: [(index: Int, message: String)]
    public var usableCount: Int { images.lazy.filter { $0 != nil }.count }
}

public enum ImageLoader {
    /// Decodes every entry on `threads` threads. A missing, corrupt or (with `dropPlaceholders`) placeholder image
    /// leaves that entry nil and is reported; nothing else is lost.
    public static func load(_ entries: [ImageEntry], resolver: ImageResolver, dropPlaceholders: Bool,
                            thresholds: ImageQuality.Thresholds = .init(), threads: Int = 1) -> LoadedImages {
        let count = entries.count
        let results = UnsafeMutableBufferPointer<Result<RGBImage, Error>?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { _ = results.deinitialize(); results.deallocate() }   // deinitialize: the slots own their values
        let box = UncheckedBox(results)
        let workers = max(1, threads), chunk = (count + workers - 1) / max(workers, 1)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for i in (w * chunk)..<min(count, (w + 1) * chunk) {
                box.value[i] = Result { () throws -> RGBImage in
                    let url = try resolver.url(for: entries[i].reference)
                    let image = try ImageDecoder.decode(contentsOf: url)
                    if dropPlaceholders {
                        let quality = ImageQuality.assess(image, thresholds: thresholds)
                        if !quality.isUsable { throw ImageSourceError("\(url.path): \(quality.reason)") }
                    }
                    return image
                }
            }
        }
        var images: [RGBImage?] = [], problems: [(Int, String)] = []
        images.reserveCapacity(count)
        for i in 0..<count {
            switch results[i]! {
            case .success(let image): images.append(image)
            case .failure(let error):
                images.append(nil)
                problems.append((i, entries[i].reference.isEmpty ? "item \(entries[i].id): no image reference" : "\(error)"))
            }
        }
        return LoadedImages(images: images, problems: problems)
    }
}

/// The loader's workers write disjoint slots of one buffer.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
