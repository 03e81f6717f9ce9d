import CBLAS
public enum TensorEnginePlaceholder {}
