/// Runs `body` over `items` with at most `limit` at once; results keep the input order.
func boundedMap<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async -> R) async -> [R] {
    var results = [R?](repeating: nil, count: items.count)
    await withTaskGroup(of: (Int, R).self) { group in
        var next = 0
        func addNext() {
            guard next < items.count else { return }
            let i = next
            let item = items[i]
            group.addTask { (i, await body(item)) }
            next += 1
        }
        for _ in 0..<max(1, limit) { addNext() }
        while let (i, r) = await group.next() {
            results[i] = r
            addNext()
        }
    }
    return results.map { $0! }
}
