/// Word lists for synthetic product titles: attributes a text encoder can pick up and an image model could
/// later be asked about (colour, material, category).
enum SyntheticVocabulary {
    /// Top-level category, then the product nouns it contains.
    static let categories: [(name: String, nouns: [String])] = [
        ("Bags", ["Backpack", "Tote", "Messenger Bag", "Duffel", "Clutch", "Wallet"]),
        ("Shoes", ["Sneaker", "Boot", "Sandal", "Loafer", "Running Shoe", "Slipper"]),
        ("Outerwear", ["Jacket", "Parka", "Raincoat", "Vest", "Windbreaker"]),
        ("Tops", ["T-Shirt", "Blouse", "Sweater", "Hoodie", "Polo", "Cardigan"]),
        ("Bottoms", ["Jeans", "Chinos", "Shorts", "Skirt", "Leggings"]),
        ("Kitchen", ["Saucepan", "Skillet", "Kettle", "Mixing Bowl", "Cutting Board", "Teapot"]),
        ("Tableware", ["Mug", "Plate", "Bowl", "Carafe", "Tumbler"]),
        ("Home Decor", ["Vase", "Lamp", "Cushion", "Throw Blanket", "Picture Frame", "Candle Holder"]),
        ("Bedding", ["Duvet Cover", "Pillowcase", "Sheet Set", "Quilt"]),
        ("Beauty", ["Lipstick", "Eyeshadow Palette", "Nail Polish", "Face Cream", "Hair Brush"]),
        ("Sports", ["Yoga Mat", "Water Bottle", "Dumbbell", "Jump Rope", "Gym Bag"]),
        ("Outdoor", ["Tent", "Sleeping Bag", "Camping Chair", "Headlamp", "Cooler"]),
        ("Stationery", ["Notebook", "Fountain Pen", "Pencil Case", "Desk Organizer", "Planner"]),
        ("Electronics Accessories", ["Phone Case", "Laptop Sleeve", "Headphone Stand", "Charging Cable", "Mouse Pad"]),
        ("Toys", ["Plush Bear", "Building Blocks", "Puzzle", "Toy Car", "Kite"]),
        ("Garden", ["Planter", "Watering Can", "Garden Gloves", "Bird Feeder", "Hose Reel"]),
        ("Pet Supplies", ["Dog Collar", "Cat Bed", "Pet Bowl", "Leash", "Chew Toy"]),
        ("Jewelry", ["Necklace", "Bracelet", "Ring", "Earrings", "Watch"]),
        ("Bath", ["Towel", "Bath Mat", "Shower Curtain", "Soap Dish", "Robe"]),
        ("Office Furniture", ["Desk Chair", "Standing Desk", "Bookshelf", "Filing Cabinet"]),
    ]

    static let colours = [
        "Black", "White", "Grey", "Navy", "Red", "Burgundy", "Green", "Olive", "Teal", "Blue", "Sky Blue", "Yellow",
        "Mustard", "Orange", "Pink", "Purple", "Brown", "Beige",
    ]

    static let materials = [
        "Leather", "Canvas", "Cotton", "Wool", "Linen", "Nylon", "Polyester", "Bamboo", "Ceramic", "Glass", "Steel",
        "Aluminium", "Oak", "Walnut", "Silicone", "Recycled Plastic",
    ]

    static let styles = [
        "Classic", "Modern", "Vintage", "Minimalist", "Rustic", "Sporty", "Elegant", "Compact", "Deluxe", "Everyday",
        "Heritage", "Urban", "Nordic", "Coastal", "Retro",
    ]

    static let brandSyllables = [
        "vel", "or", "ka", "lum", "na", "tri", "zen", "mo", "ra", "sol", "qui", "ber", "dax", "fen", "lo", "mir", "tes",
        "va", "no", "ri", "cal", "ion", "pax", "ul",
    ]

    static let features = [
        "water-resistant finish", "reinforced stitching", "lightweight build", "easy-clean surface", "gift-ready packaging",
        "ergonomic design", "sustainably sourced", "dishwasher safe", "machine washable", "two-year warranty",
        "hand-finished details", "stackable", "adjustable fit", "travel friendly",
    ]
}
