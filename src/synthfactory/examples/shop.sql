-- The small shop database the `sql` example recipe asks questions about.
-- Built into shop.sqlite by `python -m synthfactory.examples.sql --build`.
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    joined DATE NOT NULL
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price REAL NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL,
    ordered DATE NOT NULL
);
INSERT INTO customers VALUES
    (1, 'Ada', 'UK', '2023-01-15'), (2, 'Grace', 'US', '2023-03-02'),
    (3, 'Linus', 'FI', '2023-05-20'), (4, 'Margaret', 'US', '2024-02-11'),
    (5, 'Edsger', 'NL', '2024-06-30'), (6, 'Barbara', 'US', '2024-09-09');
INSERT INTO products VALUES
    (1, 'Keyboard', 'hardware', 49.0), (2, 'Mouse', 'hardware', 19.5),
    (3, 'Monitor', 'hardware', 189.0), (4, 'Compiler Book', 'books', 39.9),
    (5, 'Algorithms Book', 'books', 59.0), (6, 'IDE License', 'software', 99.0);
INSERT INTO orders VALUES
    (1, 1, 1, 1, '2024-01-03'), (2, 1, 4, 2, '2024-01-20'), (3, 2, 3, 1, '2024-02-14'),
    (4, 2, 6, 1, '2024-02-15'), (5, 3, 2, 3, '2024-03-01'), (6, 4, 5, 1, '2024-03-18'),
    (7, 5, 4, 1, '2024-04-02'), (8, 5, 5, 1, '2024-04-02'), (9, 6, 1, 2, '2024-05-21'),
    (10, 6, 3, 1, '2024-06-11'), (11, 2, 2, 2, '2024-07-07'), (12, 4, 6, 1, '2024-08-19');
