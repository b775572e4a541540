pub mod child;
pub mod example;
pub mod logs;
pub mod wire;
