import TensorEngine
public enum ModelsPlaceholder {}
