import Foundation

/// Shapes of a DINOv2-style ViT, named as Hugging Face's `Dinov2Config` (its config.json is read and written).
public struct ViTConfig: Codable, Equatable, Sendable {
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var mlpRatio: Int
    public var patchSize: Int
    /// The size the position table was trained for (its grid is imageSize / patchSize per side); other crop sizes
    /// interpolate it bicubically, as `Dinov2Model` does.
    public var imageSize: Int
    public var layerNormEps: Float
    /// LayerScale's initial value (HF's `layerscale_value`; DINOv2 trains with 1e-5, our CPU default with 0.1).
    public var layerScaleInit: Float

    public init(hiddenSize: Int, layers: Int, heads: Int, mlpRatio: Int = 4, patchSize: Int, imageSize: Int,
                layerNormEps: Float = 1e-6, layerScaleInit: Float = 1.0) {
        self.hiddenSize = hiddenSize; self.layers = layers; self.heads = heads; self.mlpRatio = mlpRatio
        self.patchSize = patchSize; self.imageSize = imageSize; self.layerNormEps = layerNormEps; self.layerScaleInit = layerScaleInit
    }

    /// DINOv2 ViT-S/14 (facebook/dinov2-small): 384 wide, 12 layers, 6 heads, a 37×37 position grid.
    public static let vitS14 = ViTConfig(hiddenSize: 384, layers: 12, heads: 6, patchSize: 14, imageSize: 518)
    /// The CPU default: patch 8 on 56-pixel global crops (7×7 patches) and 24-pixel local crops (3×3).
    public static let cpuDefault = ViTConfig(hiddenSize: 128, layers: 4, heads: 4, patchSize: 8, imageSize: 56, layerScaleInit: 0.1)

    public var mlpWidth: Int { hiddenSize * mlpRatio }
    public var gridSize: Int { imageSize / patchSize }

    public func validate() throws {
        guard hiddenSize > 0, layers > 0, heads > 0, hiddenSize % heads == 0 else {
            throw ViTError.invalidConfig("hidden size \(hiddenSize) must be a positive multiple of \(heads) heads")
        }
        guard patchSize > 0, imageSize >= patchSize, mlpRatio > 0 else {
            throw ViTError.invalidConfig("patch \(patchSize), image \(imageSize), mlp ratio \(mlpRatio) must be positive, image ≥ patch")
        }
    }

    // MARK: Hugging Face config.json

    public func huggingFaceJSON() -> [String: Any] {
        ["model_type": "dinov2", "architectures": ["Dinov2Model"], "hidden_size": hiddenSize, "num_hidden_layers": layers,
         "num_attention_heads": heads, "mlp_ratio": mlpRatio, "patch_size": patchSize, "image_size": imageSize,
         "layer_norm_eps": Double(layerNormEps), "layerscale_value": Double(layerScaleInit), "hidden_act": "gelu",
         "num_channels": 3, "qkv_bias": true, "use_swiglu_ffn": false, "drop_path_rate": 0.0,
         "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0]
    }

    public static func fromHuggingFace(_ object: [String: Any], path: String) throws -> ViTConfig {
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if let value = object[key] as? Int { return value }
            if let fallback { return fallback }
            throw ViTError.malformed(path: path, reason: "config.json lacks \"\(key)\"")
        }
        if let type = object["model_type"] as? String, type != "dinov2" {
            throw ViTError.malformed(path: path, reason: "model_type \"\(type)\" is not dinov2")
        }
        if object["use_swiglu_ffn"] as? Bool == true {
            throw ViTError.malformed(path: path, reason: "SwiGLU feed-forward (ViT-g) is not supported")
        }
        if let act = object["hidden_act"] as? String, act != "gelu" {
            throw ViTError.malformed(path: path, reason: "hidden_act \"\(act)\" is not supported (gelu only)")
        }
        let config = ViTConfig(hiddenSize: try int("hidden_size"), layers: try int("num_hidden_layers"),
                               heads: try int("num_attention_heads"), mlpRatio: try int("mlp_ratio", 4),
                               patchSize: try int("patch_size"), imageSize: try int("image_size"),
                               layerNormEps: Float(object["layer_norm_eps"] as? Double ?? 1e-6),
                               layerScaleInit: Float(object["layerscale_value"] as? Double ?? 1.0))
        try config.validate()
        return config
    }
}

public enum ViTError: Error, CustomStringConvertible {
    case invalidConfig(String)
    case malformed(path: String, reason: String)
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .invalidConfig(let reason): return "invalid ViT config: \(reason)"
        case .malformed(let path, let reason): return "\(path): \(reason)"
        case .shapeMismatch(let path, let tensor, let expected, let found):
            return "\(path): tensor \(tensor) has shape \(found), the config needs \(expected)"
        }
    }
}
